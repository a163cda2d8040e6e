"""A small real repository for the context tests: several modules, a test, docs, and traps
(a secret file, a chunk holding a key, vendored and ignored files, a binary)."""

from __future__ import annotations

from pathlib import Path

from tests.validation.helpers import commit_all, make_repo, write_files

__all__ = ["CANARY", "FILES", "commit_all", "make_context_repo", "write_files"]

CANARY = "AKIA" + "ZQ7Y3CANARY0KEY9"  # token-shaped: an AWS access key id
_FILLER = "".join(f"def helper_{i}(value):\n    return value * {i} + {i}\n\n\n" for i in range(60))

FILES: dict[str, str] = {
    ".gitignore": "ignored/\n*.log\n",
    "shop/__init__.py": "",
    "shop/cart.py": (
        "from shop.pricing import apply_discount\n\n\n"
        "class ShoppingCart:\n"
        "    def __init__(self):\n        self.items = []\n\n"
        "    def add_item(self, name, price):\n        self.items.append((name, price))\n\n"
        "    def total_price(self):\n        return apply_discount(sum(p for _, p in self.items))\n"
    ),
    "shop/pricing.py": (
        "DISCOUNT_RATE = 0.1\n\n\n"
        "def apply_discount(amount):\n    \"\"\"Take the discount off orders above 100.\"\"\"\n"
        "    if amount > 100:\n        return amount * (1 - DISCOUNT_RATE)\n    return amount\n"
    ),
    "shop/helpers.py": _FILLER,
    "shop/settings.py": f'REGION = "eu-west-1"\n\n\ndef aws_key():\n    return "{CANARY}"\n',
    "tests/test_cart.py": "from shop.cart import ShoppingCart\n\n\ndef test_total():\n    assert ShoppingCart().total_price() == 0\n",
    "README.md": "# Shop\n\nA shopping cart with discounts.\n",
    ".env": f"AWS_ACCESS_KEY_ID={CANARY}\n",
    "vendor/lib/discount.py": "def apply_discount(amount):\n    return amount\n",
    "web/app.min.js": "function applyDiscount(a){return a}\n",
    "web/cart.js": (
        "export function cartTotal(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n\n"
        "export class CartView {\n  render(items) {\n    return `total ${cartTotal(items)}`;\n  }\n}\n"
    ),
}


def make_context_repo(root: Path) -> Path:
    """The repository above, committed, plus an ignored file and a binary file."""
    repo = make_repo(root, FILES)
    write_files(repo, {"ignored/discount_notes.py": "def apply_discount():\n    pass\n"})
    (repo / "shop" / "logo.bin").write_bytes(b"\x89PNG\x00\x00apply_discount\x00")
    commit_all(repo, "add binary")
    return repo
