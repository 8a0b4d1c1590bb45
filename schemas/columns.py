"""Column contracts shared between stages and writers, defined once at the bottom floor."""

# The first four columns of record_links.csv: other tools read them, they must stay.
RECORD_LINK_COLUMNS = ["source", "record_id", "person_id", "family_id"]
# A clerical decision on a record pair, as review files and clerical_decisions.csv hold it.
DECISION_COLUMNS = ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]
