"""`make bench`: the figures the issues set targets for. Prints; asserts nothing.

- `imports`: the built layer's size, and each handler module's cold import (with the
  configuration's models and simple-salesforce beside them);
- `outbound`: outbound runs over 10,000 and 50,000 new Leads, 10,000 edited ones, and an idle
  run: Salesforce API calls, records per second, the connector's CPU per 1,000 records, peak
  memory;
- `inbound`: inbound runs over 1,000, 10,000 and 50,000 changed prospects in the function's
  warm container, change capture from the stream, and the intake route's cold start;
- `cost`: what a record costs in AWS, per scenario, at list prices, with the DynamoDB units
  counted per call as billed (`capacity`, `meter`);
- `gateway`: the Salesforce API calls of typical gateway work.

Shared: `doubles` (the emulator and moto in processes of their own, so that the connector's
process measures the connector alone), `functions` (the functions invoked and measured, in the
bench's process or a container of their own), `measure` (CPU, memory, import times). Each
function runs as deployed, on the local runtime (`local.runtime`).
"""
