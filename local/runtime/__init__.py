"""The connector as deployed, on this machine: the one set of pieces `make demo`, `make bench`
and the tests run the real handlers with.

- `org`: the Salesforce emulator with the connected app the connector logs in through;
- `aws`: AWS by moto (in process for the tests, served for the demo and the bench), the stack
  made from template.yaml, the Salesforce secret, a function's environment as deployed;
- `connector`: all of it together in this process, as `make demo` runs it;
- `invoke`: a handler invoked as Lambda invokes it, with a context and its deadline;
- `queues`: a queue drained, or read as Lambda's event source mapping reads it;
- `stream`: the prospects table's stream delivered as Lambda events;
- `schedules`: scheduled runs made due, so that local runs come back to back.

Each module imports only what its job needs: a process that must not load moto or the emulator
(the bench's connector, whose memory is measured) imports `invoke`, `queues`, `stream` and
`schedules` alone.
"""
