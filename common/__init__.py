"""The domain of the music gateway: imported by api/ and worker/, never imports either."""
