"""Learned designers: networks, losses, the one training loop, checkpoints, compression.

* :mod:`.loop` — the one training loop :func:`fit` (epochs, Adam, plateau learning rate, best
  weights, early stopping, time limit, TensorBoard, the non-finite-gradient guard, resumable
  state) driven by a :class:`TrainTask`, with the one settings dataclass :class:`TrainConfig`.
* :mod:`.checkpoint` — the one checkpoint format: safetensors + JSON sidecar with SHA-256,
  atomic writes and a format version (:func:`save_model` / :func:`load_model`); nothing is ever
  unpickled.
* :mod:`.precoder_nets`, :mod:`.losses`, :mod:`.training`, :mod:`.designer` — the downlink
  precoder networks of temiz_unsup, their unsupervised loss (eq. 25), their training task and
  the designer that wraps a trained network (:class:`LearnedPrecoder`).
* :mod:`.isacnn` — ISACNN and FC-NN of qi_uplink, their task and designer.
* :mod:`.bilstm` — the two Bi-LSTM networks of ding_dt (RSU assignment, beams) over the vehicle
  sequence, their features, training tasks and checkpoints.
* :mod:`.compression`, :mod:`.export` — quantization, pruning, ONNX export.

A trained network is a designer like any other (``design(problem) -> Design``).
"""

from isaclearn.learn.bilstm import (
    AssignmentTask,
    BeamTask,
    BiLstmConfig,
    BiLstmNet,
    VehicleSequences,
    load_bilstm,
    predict_assignment,
    predict_beams,
    save_bilstm,
    train_bilstm,
)
from isaclearn.learn.checkpoint import (
    Checkpoint,
    load_checkpoint,
    load_model,
    save_checkpoint,
    save_model,
    weights_digest,
)
from isaclearn.learn.compression import (
    CompressionReport,
    compress,
    prune_global,
    quantize_model,
    quantize_tensor,
    remove_dead_neurons,
)
from isaclearn.learn.designer import (
    LearnedPrecoder,
    load_precoder,
    load_trained,
    save_precoder,
    trained_weights,
)
from isaclearn.learn.fast_inference import structured_inference
from isaclearn.learn.loop import (
    RHO_GRID,
    BatchLoss,
    TrainConfig,
    TrainResult,
    TrainTask,
    fit,
)
from isaclearn.learn.losses import (
    LOSS_TERMS,
    LossConfig,
    compute_beta,
    compute_gamma,
    isac_loss_terms,
    min_approx_sum_crb,
)
from isaclearn.learn.precoder_nets import (
    EntrywisePrecoderNet,
    NetConfig,
    PrecoderNet,
    StructuredPrecoderNet,
    build_network,
    encoder_inference,
    paper_features,
    structured_precoder,
)
from isaclearn.learn.training import (
    PrecoderTask,
    TrainJob,
    generate_dataset,
    train_many,
    train_precoder,
)

__all__ = [
    "AssignmentTask",
    "BeamTask",
    "BiLstmConfig",
    "BiLstmNet",
    "VehicleSequences",
    "load_bilstm",
    "predict_assignment",
    "predict_beams",
    "save_bilstm",
    "train_bilstm",
    "LOSS_TERMS",
    "RHO_GRID",
    "BatchLoss",
    "Checkpoint",
    "CompressionReport",
    "EntrywisePrecoderNet",
    "LearnedPrecoder",
    "LossConfig",
    "NetConfig",
    "PrecoderNet",
    "PrecoderTask",
    "StructuredPrecoderNet",
    "TrainConfig",
    "TrainJob",
    "TrainResult",
    "TrainTask",
    "build_network",
    "compress",
    "compute_beta",
    "compute_gamma",
    "fit",
    "generate_dataset",
    "isac_loss_terms",
    "load_checkpoint",
    "load_model",
    "trained_weights",
    "weights_digest",
    "load_precoder",
    "load_trained",
    "min_approx_sum_crb",
    "paper_features",
    "prune_global",
    "quantize_model",
    "quantize_tensor",
    "remove_dead_neurons",
    "save_checkpoint",
    "save_model",
    "save_precoder",
    "encoder_inference",
    "structured_inference",
    "structured_precoder",
    "train_many",
    "train_precoder",
]
