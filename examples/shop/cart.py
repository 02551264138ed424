"""The products and the cart: a list of {"sku", "qty"} dicts in the session, changed in place."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, NamedTuple

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from scsession.fastapi import SessionDep

from .pages import render, see_other

router = APIRouter()


class Product(NamedTuple):
    name: str
    price: Decimal


PRODUCTS = {
    "tea": Product("Green tea, 100 g", Decimal("4.50")),
    "mug": Product("Stoneware mug", Decimal("12.00")),
    "pot": Product("Cast-iron teapot", Decimal("39.90")),
    "honey": Product("Forest honey, 250 g", Decimal("7.20")),
}


def product(sku: str) -> Product:
    if sku not in PRODUCTS:
        raise HTTPException(404, "no such product")
    return PRODUCTS[sku]


@router.get("/", response_class=HTMLResponse)
async def shop(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, session, "shop.html", products=PRODUCTS)


@router.get("/cart", response_class=HTMLResponse)
async def cart_page(request: Request, session: SessionDep) -> HTMLResponse:
    # A session can outlive a product (sessions last across deploys): skip what is gone.
    cart = session.get("cart", [])
    lines = [(line, PRODUCTS[line["sku"]]) for line in cart if line["sku"] in PRODUCTS]
    total = sum((item.price * line["qty"] for line, item in lines), Decimal(0))
    return render(request, session, "cart.html", lines=lines, total=total)


@router.post("/cart/add")
async def add(session: SessionDep, sku: Annotated[str, Form()]) -> RedirectResponse:
    item = product(sku)
    # Changes inside the stored list count: no need to assign session["cart"] again.
    cart = session.setdefault("cart", [])
    for line in cart:
        if line["sku"] == sku:
            line["qty"] += 1
            break
    else:
        cart.append({"sku": sku, "qty": 1})
    session.flash("success", f"Added to your cart: {item.name}.")
    return see_other("/")


@router.post("/cart/remove")
async def remove(session: SessionDep, sku: Annotated[str, Form()]) -> RedirectResponse:
    item = product(sku)
    cart = session.get("cart", [])
    for line in cart:
        if line["sku"] == sku:
            line["qty"] -= 1
            if line["qty"] == 0:
                cart.remove(line)
            session.flash("info", f"Removed one from your cart: {item.name}.")
            break
    if not cart:
        session.pop("cart", None)  # no empty list left behind
    return see_other("/cart")
