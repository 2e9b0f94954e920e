"""Everything that runs crmsync on this machine: the Salesforce emulator, the stack from
template.yaml on moto, the demo, the benchmark and the build check."""
