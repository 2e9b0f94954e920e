"""The Salesforce adapter, on simple-salesforce: login, incremental reads, batched writes."""
