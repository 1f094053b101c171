-- An inbound call keeps the IncomingPhoneNumber it came in on (the Call
-- resource's phone_number_sid) and, when known, the number that forwarded
-- it (forwarded_from). Both are written once, at create.
ALTER TABLE calls ADD COLUMN phone_number_sid TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN forwarded_from TEXT NOT NULL DEFAULT '';
