-- A <Dial>'s far-end leg is a call of its own (issue 14), as on Twilio:
-- Direction outbound-dial, with its parent's SID.
ALTER TABLE calls ADD COLUMN parent_call_sid TEXT NOT NULL DEFAULT '';
