"""Selling embeddings: check the request, meter it, run it, and deliver what was paid for.

- `intake`: the checks and image decoding that happen before anything is reserved;
- `sell`: the sale itself (reserve, infer, commit or refund);
- `render`: the response bytes, split around the one number only the commit knows.
"""

from vendor_service.sale.sell import Sale, sell_embeddings

__all__ = ["Sale", "sell_embeddings"]
