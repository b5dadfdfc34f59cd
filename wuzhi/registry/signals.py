from django.dispatch import Signal

# Sent inside the moving transaction with household, old_path and actor: rows elsewhere that
# carry the household's area path follow it (or are flagged for a person to check).
household_moved = Signal()
