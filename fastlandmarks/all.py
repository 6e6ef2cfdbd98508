"Everything in fastlandmarks, plus `fastai.vision.all`: `from fastlandmarks.all import *`"
from fastai.vision.all import *
from .core import *
from .heatmaps import *
from .transforms import *
from .losses import *
from .metrics import *
from .models import *
from .learner import *
from .export import *
from .test_utils import *
