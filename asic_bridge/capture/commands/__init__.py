"""``hashrc`` sub-commands for capture files."""
