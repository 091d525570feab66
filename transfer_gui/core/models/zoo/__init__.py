"""The model zoo: every torchvision classifier with weights and timm's pretrained models, listed
from a cache on disk (no torch import), with where their weights live and how fast they run.

- `entry`: one listed model and the words for its family and pretraining;
- `catalog`: the list itself, read from the shipped or the user's cache, and searched;
- `store`: the cache file (gzip'd JSON keyed by the library versions);
- `build`: writing that cache from the installed torchvision and timm (slow, done once);
- `caches`: where torch and Hugging Face keep downloaded weights, and what is already here;
- `fetch`: downloading a timm model's weights into Hugging Face's cache;
- `speed`: images per second of a model on this computer, measured once and remembered.
"""
