"""In-memory fakes of every port in `crmsync.ports`, in the style of cosmicpython's
`FakeRepository`: each holds its adapter's documented contract (what it refuses, what it keeps,
in what order it answers), which tests/contract checks against the adapter itself, so that a
service test on fakes proves what it would prove on DynamoDB and Salesforce.

`FakeConnector` (connector.py) is the set of them that one deployed connector has, and builds
the use cases on it through their public constructors, as `crmsync.bootstrap` does."""
