"""DVD media and print logs (C-17, C-21): what the media and print registers are built from."""
