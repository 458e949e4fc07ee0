"""Quality: scorers, LLM judges, datasets and experiments over captured calls.

Loaded on first use of ``ld.evaluate``/``ld.judge``/``ld.scorers``/``ld.dataset``/``ld.experiment`` (never by ``import llmdebug``).
"""

from .dataset_items import Dataset, dataset, datasets
from .experiments import experiment
from .judges import judge
from .runs import experiment_frame, experiments_list
from .scoring import evaluate

__all__ = ["evaluate", "judge", "dataset", "datasets", "Dataset", "experiment", "experiment_frame",
           "experiments_list"]
