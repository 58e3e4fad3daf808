"""Reaching the citizen and the bioanalyst on the road: reminder policy and the day's contact
list, the SMS outbox and gateway, the route on a phone (ICS, navigation links, GPX, QR codes)
and letters for Digital Post. Core: no Qt."""
