"""Effects behind small objects: the Vercel API, app probes, the durable run ledger."""
