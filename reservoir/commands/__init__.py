"""``hashrc`` sub-commands of the reservoir package."""
