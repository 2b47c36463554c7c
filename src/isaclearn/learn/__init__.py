"""isaclearn.learn"""

# Neural precoders of temiz_unsup: networks, loss, training, checkpoints, compression, export.
from isaclearn.learn.checkpoint import (
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
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
    RHO_GRID,
    TrainConfig,
    TrainJob,
    TrainResult,
    generate_dataset,
    train_many,
    train_precoder,
)

__all__ = [
    "LOSS_TERMS",
    "RHO_GRID",
    "Checkpoint",
    "CompressionReport",
    "EntrywisePrecoderNet",
    "LearnedPrecoder",
    "LossConfig",
    "NetConfig",
    "PrecoderNet",
    "StructuredPrecoderNet",
    "TrainConfig",
    "TrainJob",
    "TrainResult",
    "build_network",
    "compress",
    "compute_beta",
    "compute_gamma",
    "generate_dataset",
    "isac_loss_terms",
    "load_checkpoint",
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
    "save_precoder",
    "encoder_inference",
    "structured_inference",
    "structured_precoder",
    "train_many",
    "train_precoder",
]
