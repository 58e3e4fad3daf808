"""Electronic intake: MedCom CareCommunication messages from the municipalities' systems.

``fhir`` reads and writes FHIR JSON/XML, ``message`` parses and validates a bundle, ``ack``
builds acknowledgements and replies, ``hints`` reads booking hints from free text, and
``service.IntakeService`` stores messages in threads, runs the inbox folders and turns a
message into a request or a cancellation (with a person in the loop).
"""
