"""Key attributes of the two DynamoDB tables.

`template.yaml` is the source of truth for the tables themselves; these names are what the code
reads and writes, and `tests/template` checks that the deployed tables agree with them.
"""

PARTITION_KEY = "pk"
SORT_KEY = "sk"
#: UsageTable's TTL attribute (epoch seconds): ledger items, reservations, health windows.
TTL_ATTRIBUTE = "expires_at"
