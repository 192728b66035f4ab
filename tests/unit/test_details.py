"""Collected details: what a customer's message states, and what only looks like it."""

import pytest

from gateway.bot.details import extract_details, merge_details

FOUND = [
    # order numbers
    ("Where is my order #4411?", {"order_numbers": ["4411"]}),
    ("my order number is 123456", {"order_numbers": ["123456"]}),
    ("order no. 98765 hasn't arrived", {"order_numbers": ["98765"]}),
    ("Order: 55512", {"order_numbers": ["55512"]}),
    ("order # 77120 please", {"order_numbers": ["77120"]}),
    ("order #A12345 is late", {"order_numbers": ["A12345"]}),
    ("order id is B-99812", {"order_numbers": ["B-99812"]}),
    ("It's ORD-2024-001", {"order_numbers": ["ORD-2024-001"]}),
    ("ord-2024-001 please", {"order_numbers": ["ORD-2024-001"]}),
    ("ref ORD 2023 0042", {"order_numbers": ["ORD-2023-0042"]}),
    ("ORD2024001", {"order_numbers": ["ORD2024001"]}),
    ("#12345 and #12346 both", {"order_numbers": ["12345", "12346"]}),
    ("order 12345, I mean order #12345", {"order_numbers": ["12345"]}),
    # emails
    ("my email is Jane.Doe+shop@Example.COM", {"emails": ["jane.doe+shop@example.com"]}),
    ("reach me at a@b.co.", {"emails": ["a@b.co"]}),
    ("mail: maria_lopez@mail.example.org or m.lopez@work.example", {
        "emails": ["maria_lopez@mail.example.org", "m.lopez@work.example"]}),
    # phone numbers
    ("call me on +1 555 123 4567.", {"phones": ["+15551234567"]}),
    ("+44 20 7946 0958", {"phones": ["+442079460958"]}),
    ("whatsapp +33 6 12 34 56 78", {"phones": ["+33612345678"]}),
    ("+15551234567", {"phones": ["+15551234567"]}),
    ("(207) 555-0143", {"phones": ["2075550143"]}),
    ("555-123-4567, thanks", {"phones": ["5551234567"]}),
    ("207.555.0143", {"phones": ["2075550143"]}),
    ("my number: 07700 900123!", {"phones": ["07700900123"]}),
    ("call 1 800 555 0199 now", {"phones": ["18005550199"]}),
    # names
    ("my name is Maria Lopez", {"names": ["Maria Lopez"]}),
    ("Hi, my name is sam.", {"names": ["Sam"]}),
    ("name: Anne-Marie O'Neil", {"names": ["Anne-Marie O'Neil"]}),
    ("my name is José García and I need help", {"names": ["José García"]}),
    ("my name's john smith I ordered twice", {"names": ["John Smith"]}),
    # several kinds in one message
    ("My name is Ana, order ORD-2024-001, ana@example.com, +1 (555) 010-9999", {
        "order_numbers": ["ORD-2024-001"], "emails": ["ana@example.com"], "phones": ["+15550109999"],
        "names": ["Ana"]}),
    ("my order is #12345 and my email is bob@example.com", {
        "order_numbers": ["12345"], "emails": ["bob@example.com"]}),
]

LOOK_ALIKES = [
    # prices
    "I paid $12345 for it",
    "it cost 49.99 and shipping was 5.95",
    "order total was 120.50",
    "order 12345.67",
    # dates and times
    "I ordered it on 2024-03-15",
    "order 12/05/2024",
    "it came on 15.03.2024 at 10:30",
    # years
    "my order from 2023",
    "order 2024 was the best",
    "#2024 best year",
    # quantities
    "I want to order 2000 units",
    "can I order 1500 pieces",
    "order 3 chairs",
    "order 12 items",
    # other numbers
    "I'm your #1 fan",
    "#blessed",
    "card 4111 1111 1111 1111",
    "3782 822463 10005",
    "$1,234,567",
    "my IP is 192.168.1.1",
    "version 1.2.3.4.5.6.7.8.9.0",
    "3 to 5 business days",
    "12345",
    # not emails
    "follow @mapleandmoss",
    "me@localhost",
    # not names
    "my name is not on the order",
    "my name is spelled wrong on the label",
    "what is your name?",
]


@pytest.mark.parametrize("text, expected", FOUND)
def test_details_stated_in_a_message_are_found(text, expected):
    assert extract_details(text) == expected


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_not_details(text):
    assert extract_details(text) == {}


def test_a_number_after_the_word_order_is_an_order_number_unless_it_is_an_amount():
    # "order 5000" reads as an order number; a percentage or decimals make it an amount.
    assert extract_details("20% off order 5000") == {"order_numbers": ["5000"]}
    assert extract_details("order 5000.00") == {}
    assert extract_details("order 50%") == {}


def test_order_prefixes_are_configurable():
    assert extract_details("SO-88231 is late") == {}
    assert extract_details("SO-88231 is late", order_prefixes=("SO", "INV")) == {"order_numbers": ["SO-88231"]}
    assert extract_details("inv_2024_17 and ORD-1", order_prefixes=("SO", "INV")) == {
        "order_numbers": ["INV-2024-17"]}
    # A prefix is text, not a pattern: an admin's "(.*)" matches only itself.
    assert extract_details("ORD-123 and ABC-999", order_prefixes=("(.*)",)) == {}


def test_merge_accumulates_across_messages_without_duplicates():
    first = extract_details("my order is #12345, my name is maria lopez")
    second = extract_details("Maria Lopez here again: order 12345 and ORD-2024-001, email maria@example.com")
    third = extract_details("or call +1 555 123 4567")

    collected = merge_details(merge_details({}, first), second)
    collected = merge_details(collected, third)

    assert collected == {
        "order_numbers": ["12345", "ORD-2024-001"],
        "names": ["Maria Lopez"],
        "emails": ["maria@example.com"],
        "phones": ["+15551234567"],
    }
    assert first == {"order_numbers": ["12345"], "names": ["Maria Lopez"]}  # inputs are not changed


def test_merge_of_nothing_new_is_what_was_collected():
    collected = {"emails": ["a@b.co"]}
    assert merge_details(collected, extract_details("thanks!")) == collected
    assert merge_details(collected, {"emails": ["A@B.CO"]}) == collected
