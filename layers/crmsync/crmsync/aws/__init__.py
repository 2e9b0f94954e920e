"""AWS adapters: DynamoDB stores, the SQS actions queue, Secrets Manager."""
