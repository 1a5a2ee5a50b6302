"""t2m_gpt"""
