"""Handing a conversation from the bot to people: business hours
(hours), availability, escalation and tickets (escalate), assignment
(assign), the missed-chat ladder (ladder), the handoff packet (packet), the
admins' team overview (teams), and every sentence the customer hears about
it (wording)."""
