"""crmsync: keeps a marketing platform's prospects and Salesforce in step, both ways."""

__version__ = "0.1.0"
