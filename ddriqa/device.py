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


def describe_device(device):
    """A human-readable name of the hardware behind ``device``, for provenance records.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    str
        E.g. ``"NVIDIA H100 80GB HBM3"`` or ``"cpu: AMD EPYC 7B13 (2 threads)"``.

    Examples
    --------
    >>> from ddriqa.device import describe_device
    >>> describe_device("cpu").startswith("cpu")
    True
    """
    import platform

    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{device.type}: {model} ({torch.get_num_threads()} threads)"
