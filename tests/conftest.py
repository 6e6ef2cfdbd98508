"Shared pytest settings."
import matplotlib
matplotlib.use('Agg')


def pytest_collection_modifyitems(config, items):
    "Keep only tests defined in the test files: `from fastai.vision.all import *` brings fastcore's `test_*` helpers along"
    items[:] = [i for i in items if getattr(getattr(i, 'function', None), '__module__', None) == i.module.__name__]
