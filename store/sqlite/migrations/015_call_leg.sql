-- What carries a call (tonepay.Leg): simulated, a media stream, SIP. It
-- decides who runs the call's TwiML, so every process must read it from the
-- call. Calls stored before it were all simulated. Written once, at create.
ALTER TABLE calls ADD COLUMN leg TEXT NOT NULL DEFAULT 'simulated';
