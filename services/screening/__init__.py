"""The screening service: shipment events in, approve/hold decisions out."""
