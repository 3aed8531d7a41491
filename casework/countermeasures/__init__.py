"""Countermeasures: what the provider does about a case besides suing.

Enforcement actions (suspend, terminate, block a card or an address range) and indicator
exchange with other providers are themselves evidence (when the provider learned, what it
did, whether termination was proportionate), so each is a record with a ledgered history.
Its models are registered by `casework.apps` (the app's models module cannot import this
package, whose services import it).
"""
