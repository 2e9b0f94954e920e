"""`make demo`: the connector end to end on this machine — no AWS account, no Salesforce org.

Everything runs through the real handlers and adapters, on the local runtime (`local.runtime`):
1. `gateway`: the HTTP entry point's `GET /status`, a login by JWT bearer, a 5,000-Lead write
   through sObject Collections and Bulk API 2.0, and incremental reads back;
2. `outbound`: outbound sync over an org of a few thousand Leads and Contacts (`org`) and a
   marketing platform that already knows a few hundred of those people;
3. `inbound`, `actions`, `activities`, `echo`: inbound sync of marketing edits, automation
   actions, marketing activities as Tasks, and the echo check.
`report` holds what the parts print alike; `__main__` runs the parts in order.

The org's clock runs an hour behind the machine's (as in the tests): the connector reads up
to the last whole second that is over, and a record the org stamps in the past is in such a
second at once, so no step has to wait for the clock. The org's clock moves on before every
change that must read as made after an earlier read, as real time would.
"""
