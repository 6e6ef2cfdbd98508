"""Interrupted training continues where it stopped (issue 7): fastai's `SaveModelCallback` checkpoints with `learn.load`,
and the command line's `train_landmarks(..., resume=True)` (`fastlandmarks train --resume`).

A run is interrupted right after its checkpoint of epoch 1 (the second epoch), by a `KeyboardInterrupt` (Ctrl-C, a killed
job) or by fastai's own `CancelFitException`; the resumed run must train epoch 2 only, starting from the saved weights and
optimizer state, on the learning rates the uninterrupted schedule has at epoch 2, and keep the best model of all epochs.
"""
import json
from contextlib import contextmanager, nullcontext
from copy import deepcopy
import pytest, torch
from fastai.vision.all import *
import fastlandmarks.training as training
from fastlandmarks.training import EpochCheckpoint, epochs_done, train_landmarks
from fastlandmarks.layouts import LandmarkLayout
from fastlandmarks.models import timm_encoder
from reliability_utils import *

torch.set_num_threads(1)
IMGS, PTS = dots_with_missing(32)
LAYOUT = LandmarkLayout('dots', FLIP_IDX, norm_idx=(0, 1))
EPOCHS, STOP_AFTER = 3, 1


def _same_state(a, b)->bool:
    "Whether two (nested) states hold equal tensors and values"
    if isinstance(a, dict): return isinstance(b, dict) and a.keys()==b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)): return len(a)==len(b) and all(map(_same_state, a, b))
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a==b


# ---------------------------------------------------------------- fastai's checkpoints, every head

@pytest.mark.parametrize('head', HEADS)
def test_save_model_checkpoint_loads_and_training_continues(head, tmp_path):
    "A `SaveModelCallback` checkpoint (with its optimizer) loads into a fresh learner, which predicts alike and trains on"
    dls = head_dls(IMGS, PTS, head)
    learn = head_learner(dls, head, path=tmp_path)
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-3, cbs=SaveModelCallback(fname='ckpt', every_epoch=True, with_opt=True))
    saved = deepcopy(learn.model.state_dict())
    fresh = head_learner(dls, head, path=tmp_path)
    fresh.load('ckpt_0', with_opt=True)
    assert _same_state(fresh.model.state_dict(), saved)
    assert _same_state(fresh.opt.state_dict()['state'], learn.opt.state_dict()['state'])
    xb, _ = dls.valid.one_batch()
    with torch.no_grad(): torch.testing.assert_close(fresh.model.eval()(xb), learn.model.eval()(xb))
    with fresh.no_bar(), fresh.no_logging(): fresh.fit(1, 1e-3)
    assert np.isfinite(fresh.recorder.values[-1]).all()


# ---------------------------------------------------------------- the command line's --resume

class Interrupt(Callback):
    "Raise `exc` right after the checkpoint of epoch `after`, keeping the weights and optimizer state it saved and the NMEs so far"
    order = EpochCheckpoint.order + 1
    def __init__(self, after, exc): self.after, self.exc = after, exc
    def after_epoch(self):
        if self.epoch < self.after: return
        self.learn.interrupted_state = deepcopy(self.learn.model.state_dict()), deepcopy(self.opt.state_dict())
        self.nmes = [row[self.recorder.metric_names.index('nme')-1] for row in self.recorder.values]  # values skip 'epoch'
        raise self.exc()

class Spy(Callback):
    "Record which epochs train, the state each trained epoch starts from, the tracker's best by then, and the learning rates"
    order = 100
    def before_fit(self): self.learn.spied = dict(epochs=[], starts=[], best=[], lrs=[], nme=[])
    def before_train(self):
        s = self.learn.spied
        s['epochs'].append(self.epoch)
        s['starts'].append((deepcopy(self.model.state_dict()), deepcopy(self.opt.state_dict())))
        s['best'].append(self.learn.save_model.best)
    def before_batch(self):
        if self.training: self.learn.spied['lrs'].append(self.opt.hypers[-1]['lr'])
    def after_epoch(self):
        if self.recorder.values and len(self.recorder.values[-1]): self.learn.spied['nme'].append(self.recorder.values[-1][-1])

def _train(out, monkeypatch, resume=False, stop=None, pretrained=False, epochs=EPOCHS):
    "`train_landmarks` on the dots into `out`, with a `Spy` (and the `Interrupt` callback `stop`); the learner, or the exception"
    make = training.landmark_learner
    def spied(*args, **kwargs):
        learn = make(*args, **kwargs)
        return learn.add_cbs([Spy()] + ([stop] if stop else []))
    monkeypatch.setattr(training, 'landmark_learner', spied)
    set_seed(0)
    arch = timm_encoder(BODY, pretrained=False) if pretrained else BODY  # a body module: "pretrained" without downloading
    dls = head_dls(IMGS, PTS, 'regression')
    try:
        with no_progress(): return train_landmarks(dls, out, arch, 'regression', layout=LAYOUT, epochs=epochs, lr=1e-3,
                                                   pretrained=pretrained, patience=10, resume=resume)
    finally: monkeypatch.setattr(training, 'landmark_learner', make)

@contextmanager
def no_progress():
    "Silence fastai's progress bars and tables for every learner made inside"
    from fastai.callback.progress import ProgressCallback
    old = defaults.callbacks
    defaults.callbacks = [c for c in old if c is not ProgressCallback]
    try: yield
    finally: defaults.callbacks = old

@pytest.mark.parametrize('exc', [KeyboardInterrupt, CancelFitException])
def test_interrupted_run_resumes_at_the_next_epoch_from_the_saved_state(exc, tmp_path, monkeypatch):
    full = _train(tmp_path/'full', monkeypatch)                     # the same run, never interrupted, for its schedule
    out = tmp_path/'run'
    with pytest.raises(KeyboardInterrupt) if exc is KeyboardInterrupt else nullcontext():
        stopped = _train(out, monkeypatch, stop=Interrupt(STOP_AFTER, exc))
    learn_files = json.loads((out/'models'/'last.json').read_text())
    assert learn_files['epochs_done'] == STOP_AFTER+1 and (out/'models'/'last.pth').exists()
    saved_model, saved_opt = torch.load(out/'models'/'last.pth', weights_only=False).values()
    resumed = _train(out, monkeypatch, resume=True)
    s = resumed.spied
    assert s['epochs'] == list(range(STOP_AFTER+1, EPOCHS)), "only the epochs not done yet are trained"
    model_state, opt_state = s['starts'][0]
    assert _same_state(model_state, saved_model), "the resumed epoch starts from the saved weights"
    assert _same_state(opt_state['state'], saved_opt['state']), "and from the saved optimizer state"
    n = len(s['lrs'])
    np.testing.assert_allclose(s['lrs'], full.spied['lrs'][-n:], rtol=1e-6)  # the one-cycle schedule goes on where it was
    assert epochs_done(resumed) == EPOCHS


def test_resumed_run_keeps_the_best_nme_of_the_interrupted_one(tmp_path, monkeypatch):
    out = tmp_path/'run'
    stop = Interrupt(STOP_AFTER, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt): _train(out, monkeypatch, stop=stop)
    first = json.loads((out/'models'/'last.json').read_text())
    resumed = _train(out, monkeypatch, resume=True)
    assert len(stop.nmes) == STOP_AFTER+1 and len(set(stop.nmes)) > 1  # epochs of different NMEs: the best is the min
    assert resumed.spied['best'][0] == pytest.approx(min(stop.nmes), rel=1e-6), "the resumed run starts from the best NME so far"
    assert first['epochs_done'] == STOP_AFTER+1


def test_pretrained_run_resumes_unfrozen(tmp_path, monkeypatch):
    out = tmp_path/'run'
    with pytest.raises(KeyboardInterrupt): _train(out, monkeypatch, stop=Interrupt(STOP_AFTER, KeyboardInterrupt), pretrained=True)
    resumed = _train(out, monkeypatch, resume=True, pretrained=True)
    assert all(p.requires_grad for p in resumed.model.parameters()), "the body trains after fine_tune's frozen epoch"
    assert epochs_done(resumed) == EPOCHS + 1  # fine_tune: one frozen epoch, then EPOCHS unfrozen ones


def test_without_checkpoint_resume_starts_from_scratch(tmp_path, monkeypatch):
    learn = _train(tmp_path/'new', monkeypatch, resume=True, epochs=1)
    assert learn.spied['epochs'] == [0] and epochs_done(learn) == 1
