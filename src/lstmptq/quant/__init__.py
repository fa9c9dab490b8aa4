"""Quantization with Brevitas and the plain-PyTorch engine. Every brevitas import of the package
is in here, so this runs before any of them."""

import re
import warnings

# Brevitas warns at import that the optional CUDA package fast_hadamard_transform is missing and it
# falls back to PyTorch kernels. This pipeline uses no Hadamard rotation, so the warning is noise in
# every PTQ job's log: ignore exactly that message, nothing else of Brevitas'.
HARMLESS_BREVITAS_WARNING = "fast_hadamard_transform package not found, using standard pytorch kernels"
warnings.filterwarnings(
    "ignore", message=re.escape(HARMLESS_BREVITAS_WARNING) + r"\Z", category=UserWarning, module=r"brevitas\."
)
