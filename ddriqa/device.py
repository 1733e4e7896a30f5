"""Choosing the torch device: one rule for every extractor, trainer and command."""

from __future__ import annotations

from ddriqa.errors import InputError


def resolve_device(device="auto"):
    """The :class:`torch.device` for a user's choice.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None): CUDA when available, else the CPU; otherwise any torch device
        string (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        An unknown device string, or CUDA asked for where it is not available.

    Examples
    --------
    >>> from ddriqa.device import resolve_device
    >>> resolve_device("cpu").type
    'cpu'
    """
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r} ({exc})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available")
    return resolved
