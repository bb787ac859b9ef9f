"""Joint rewards and sanctions: the action catalogue, the check index, name screening."""
