"""Callbacks that inject faults into a CLI run from its config (tests only): a signal to the process at a training step."""

from __future__ import annotations

import os
import signal
import time

from lightning.pytorch import Callback

from ser_lightning.models.backbones import Backbone


class SignalAtStep(Callback):
    """Send ``signal_name`` to this process when training reaches ``step``; then, with ``kill_after``, SIGKILL it
    (as SLURM does after a requeue, or a machine failing): nothing after that point runs.

    Args:
        step: the global step at whose end the signal is sent.
        signal_name: e.g. ``SIGKILL`` or ``SIGUSR1``.
        kill_after: also SIGKILL the process once the signal was handled.
    """

    def __init__(self, step: int, signal_name: str = "SIGKILL", kill_after: bool = False) -> None:
        self.step = step
        self.signal_name = signal_name
        self.kill_after = kill_after

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), getattr(signal, self.signal_name))
            time.sleep(0.5)  # Python runs the handler between bytecodes of the main thread
            if self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)


class BackboneWithABug(Backbone):
    """A backbone whose constructor hits a bug (as an API change in a dependency would): not a config mistake.

    Args:
        hidden: unused.
    """

    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.model = None
        self.hidden_size = self.model.config  # AttributeError, as from a changed transformers API
