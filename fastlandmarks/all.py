"Everything in fastlandmarks, plus `fastai.vision.all`: `from fastlandmarks.all import *`"
from fastai.vision.all import *
from .core import *
from .heatmaps import *
from .transforms import *
from .layouts import *
from .data import *
from .readers import *
from .synthetic import *
from .losses import *
from .metrics import *
from .inference import *
from .models import *
from .learner import *
from .tta import *
from .export import *
from .test_utils import *
