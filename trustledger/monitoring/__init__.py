"""Third-party emission monitoring: HJ 212 codec and receiver, validity, aggregation, episodes."""
