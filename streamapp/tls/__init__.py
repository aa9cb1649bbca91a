"""Certificates, keys and trust anchors from the files Kafka Connect users have: PEM, PKCS#12 and JKS.

Shared by the CoAP sink's DTLS (:mod:`streamapp.coap.dtls_x509`) and the Diffusion connectors'
wss:// (:mod:`streamapp.diffusion.tls`).

* :mod:`.stores`: PEM certificates and private keys, PKCS#12 and JKS keystores and truststores,
  with errors that name the file and say which setting (file, password, alias) is at fault.
* :mod:`.jks`: the JKS container format, which no maintained library reads.
"""
