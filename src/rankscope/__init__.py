"""rankscope: fine-tune LLM passage rerankers with PEFT and see where relevance is learned."""

__version__ = "0.1.0"
