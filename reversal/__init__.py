"""reversal: evidence-gated migration of failing Vercel routes to durable execution."""

__version__ = "0.1.0"
