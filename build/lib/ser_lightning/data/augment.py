"""Training-time augmentation built from audiomentations."""

from __future__ import annotations

from audiomentations import AddGaussianSNR, Compose


def noise_augmentation(min_snr_db: float, max_snr_db: float, p: float = 0.5) -> Compose:
    """White noise at an SNR drawn uniformly from [min_snr_db, max_snr_db] dB, applied with probability ``p``.

    Training with it turns the clean-trained model's cliff at 20 dB into a graded SNR curve on the
    synthetic corpus (see the project's measurements).
    """
    if min_snr_db > max_snr_db:
        raise ValueError(f"min_snr_db ({min_snr_db}) must not exceed max_snr_db ({max_snr_db}).")
    return Compose([AddGaussianSNR(min_snr_db=min_snr_db, max_snr_db=max_snr_db, p=1.0)], p=p)
