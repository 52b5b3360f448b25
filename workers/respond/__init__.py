"""Acting on keys through the opt-in responder role: the only place whose-key writes to AWS."""
