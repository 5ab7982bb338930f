"""The network edge: the SFTP client and the embedded SFTP server (issue 3; not built yet)."""
