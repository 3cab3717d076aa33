"""runlane's tracking server: REST (:mod:`runlane.server.app`) and gRPC
(:mod:`runlane.server.grpc`) over one Store. Needs the ``server`` extra; importing this
package imports nothing heavy."""
