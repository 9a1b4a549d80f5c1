"""VISA layer: sessions by resource string, error-queue checking, transient/permanent errors."""
from labauto.visa.errors import (CommunicationError, ConnectionLostError, InstrumentError, OverloadError,
                                 RefusedRequestError,
                                 SafeStateError, ScpiError, TransientVisaError,
                                 UnsafeRequestError, VisaError)
from labauto.visa.session import (VisaSession, classify, fresh_sim_resource_manager,
                                  parse_error_entry, resource_manager)

__all__ = ["CommunicationError", "ConnectionLostError", "InstrumentError", "OverloadError", "RefusedRequestError", "SafeStateError",
           "ScpiError", "TransientVisaError", "UnsafeRequestError", "VisaError", "VisaSession",
           "classify", "fresh_sim_resource_manager", "parse_error_entry", "resource_manager"]
