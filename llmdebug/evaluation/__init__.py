"""Quality: scorers, LLM judges, datasets and experiments over captured calls."""
