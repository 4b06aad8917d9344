"""Worker process: runs workflows and activities (``python -m worker``)."""
